"""Parallel branches writing the same task data before a join (heuristic data-flow check)."""
from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterator

from lxml import etree

from engine.validation.base import CheckerBase
from engine.validation.expressions import assigned_names
from engine.validation.messages import MSG_PARALLEL_OVERWRITE, MSG_PARALLEL_STALE
from engine.validation.model import (
    FORM_PROPERTY,
    SPIFF_NS,
    SUBPROCESSES,
    _local,
    _properties,
    _q,
    _Scope,
    _scope_of,
    _spiff_text,
    _text,
)


class ParallelChecks(CheckerBase):
    """Report data that parallel branches overwrite at a join."""

    def writes(self, scope: _Scope, node: etree._Element) -> set[str]:
        """Return the task data keys an element writes (heuristic: forms, scripts, MI outputs)."""
        local = _local(node)
        if local in SUBPROCESSES:
            inner = _scope_of(node, scope.file)
            return set().union(*(self.writes(inner, n) for n in inner.nodes.values())) if inner.nodes else set()
        keys: set[str] = set()
        mi = node.find(_q("multiInstanceLoopCharacteristics"))
        on_instances = mi is not None and mi.get(f"{{{SPIFF_NS}}}scriptsOnInstances") == "true"
        if mi is not None:
            output = _text(mi.find(_q("loopDataOutputRef")))
            keys |= {output} if output else set()
        if local == "userTask" and mi is None:
            variable = _spiff_text(node, "variableName")
            form = self.forms.get(_properties(node).get(FORM_PROPERTY, ""))
            if variable:
                keys.add(variable)
            elif isinstance(form, dict) and isinstance(form.get("properties"), dict):
                keys |= {k for k in form["properties"] if not k.startswith("_")}
        if local == "scriptTask" and mi is None:
            keys |= assigned_names(_text(node.find(_q("script"))))
        if not on_instances:
            for name in ("preScript", "postScript"):
                keys |= assigned_names(_spiff_text(node, name) or "")
        return keys

    def successors(self, scope: _Scope, node_id: str) -> Iterator[str]:
        for flow in scope.outgoing.get(node_id, []):
            yield flow.get("targetRef", "")
        for event in scope.boundary.get(node_id, []):
            yield event.get("id", "")

    def reach(self, scope: _Scope, start: str, stop: str) -> set[str]:
        seen: set[str] = set()
        queue = deque([start])
        while queue:
            current = queue.popleft()
            if current in seen or current == stop or current not in scope.nodes:
                continue
            seen.add(current)
            queue.extend(self.successors(scope, current))
        return seen

    def upstream(self, scope: _Scope, node_id: str) -> set[str]:
        predecessors: dict[str, set[str]] = defaultdict(set)
        for source in scope.nodes:
            for target in self.successors(scope, source):
                predecessors[target].add(source)
        seen: set[str] = set()
        queue = deque(predecessors[node_id])
        while queue:
            current = queue.popleft()
            if current not in seen:
                seen.add(current)
                queue.extend(predecessors[current])
        return seen

    def check_parallel_writes(self, scope: _Scope) -> None:
        joins = {nid for nid, n in scope.nodes.items() if _local(n) in ("parallelGateway", "inclusiveGateway")
                 and len(scope.incoming.get(nid, [])) > 1}
        cache: dict[str, set[str]] = {}

        def writes(node_id: str) -> set[str]:
            if node_id not in cache:
                cache[node_id] = self.writes(scope, scope.nodes[node_id])
            return cache[node_id]

        for fork_id, fork in scope.nodes.items():
            targets = [f.get("targetRef", "") for f in scope.outgoing.get(fork_id, [])]
            if _local(fork) not in ("parallelGateway", "inclusiveGateway") or len(targets) < 2:
                continue
            reaches = [self.reach(scope, t, fork_id) for t in targets]
            if not any(r1 & r2 & joins for r1 in reaches for r2 in reaches if r1 is not r2):
                continue  # the branches never meet again: nothing is merged
            reported = self.check_branch_pairs(scope, fork, reaches, joins, writes)
            self.check_stale(scope, fork, reaches, writes, reported)

    def check_branch_pairs(self, scope: _Scope, fork: etree._Element, reaches: list[set[str]], joins: set[str],
                           writes: Callable[[str], set[str]]) -> set[str]:
        """Report keys written on two branches that meet at a join; return the keys reported."""
        reported: set[str] = set()
        for i in range(len(reaches)):
            for j in range(i + 1, len(reaches)):
                if not reaches[i] & reaches[j] & joins:
                    continue
                where_i = {k: n for n in reaches[i] - reaches[j] for k in writes(n)}
                where_j = {k: n for n in reaches[j] - reaches[i] for k in writes(n)}
                for key in sorted(set(where_i) & set(where_j) - reported):
                    reported.add(key)
                    self.add(MSG_PARALLEL_OVERWRITE, scope.file, fork, variable=key,
                             first=_label(scope.nodes[where_i[key]]), second=_label(scope.nodes[where_j[key]]))
        return reported

    def check_stale(self, scope: _Scope, fork: etree._Element, reaches: list[set[str]],
                    writes: Callable[[str], set[str]], reported: set[str]) -> None:
        """Report keys set before the fork and changed on one branch only (the join may restore the old value)."""
        everything = set().union(*reaches)
        before = self.upstream(scope, fork.get("id", "")) - everything
        before_writes = set().union(*(writes(n) for n in before)) if before else set()
        for index, branch in enumerate(reaches):
            others = set().union(*(r for k, r in enumerate(reaches) if k != index))
            for node_id in sorted(branch - others):
                for key in sorted(writes(node_id) & before_writes - reported):
                    reported.add(key)
                    self.add(MSG_PARALLEL_STALE, scope.file, fork, variable=key, task=_label(scope.nodes[node_id]))


def _label(node: etree._Element) -> str:
    name = node.get("name")
    return f"'{name}' ({node.get('id', '')})" if name else f"'{node.get('id', '')}'"
