"""RestrictedPython script environment for SpiffWorkflow 3.2: every BPMN expression and script runs here.

Gateway conditions, script tasks, pre/post scripts, timer expressions, multi-instance expressions and the
`dueDate` properties all go through `PythonScriptEngine.evaluate/execute`, and so through
`RestrictedEnvironment`:

- the source is compiled with `compile_restricted_eval/exec` under a policy that also refuses imports,
  class definitions, `print`, calls to `open`/`getattr`/`type`/`vars`..., `str.format` on literals, and
  operations whose size is a large constant (`10**100`, `10**10**10`, `'a' * 10**9`, `1 << 10**9`, huge
  format widths). A refusal raises `ScriptError` naming the construct and line, before anything runs;
  `compile_check` applies the same compiler at deploy time. Compiled code is cached by source text;
- the globals are: visible task data (keys not starting with `_` and not naming a builtin or helper),
  then the helpers, then the guards and the builtins allow-list, so task data can shadow none of them;
- `+ * ** << %`, in-place operators, `sum`, `round` and the padding/joining `str` methods check the size
  of their result before the C code runs;
- a per-thread `sys.settrace` wall-clock budget (default 2 s) stops the compiled BPMN code at its next
  bytecode step once the deadline has passed (`ScriptTimeout`), and stops calls nested deeper than 50.
  CPython drops a tracer that has raised once, so the stop signal is a BaseException the script cannot
  catch: bare `except:`, `finally`, `with`, computed `except` types and `.mro` are refused at compile time;
- after a script, only JSON-storable values (plus datetime/timedelta/UUID, which the serializer handles)
  are written back to the task data: functions, modules, sets, generators... are dropped, with a warning.

Residual risks (this is defence in depth, not an OS-level sandbox; BPMN upload stays a privileged act):
- a single C-level operation cannot be interrupted by the trace budget. The size checks cover the obvious
  amplifiers, but a C call that is slow or large in a way not listed above (for example a pathological
  `str.replace` chain, or `sorted` over a large list built in a loop) runs to completion;
- memory is not limited: a Python loop can allocate a lot within the time budget;
- helpers are trusted code and run outside the budget; a slow helper is not interrupted;
- while a script runs, any tracer previously set on the thread (a debugger, coverage) is suspended.
For hard guarantees run engine steps in a worker process with `RLIMIT_CPU` / `RLIMIT_AS`.
"""
from engine.sandbox.budget import ScriptTimeout, time_budget
from engine.sandbox.compiler import compile_check
from engine.sandbox.environment import (
    RestrictedEnvironment,
    RestrictedScriptEngine,
    make_script_engine,
    storable,
)
from engine.sandbox.guards import (
    BUILTINS,
    GUARDS,
    guarded_binop,
    guarded_getattr,
    guarded_inplacevar,
    guarded_round,
    guarded_sum,
)
from engine.sandbox.limits import (
    CACHE_SIZE,
    DEFAULT_TIME_BUDGET,
    MAX_CALL_DEPTH,
    MAX_CONST_EXPONENT,
    MAX_DATA_DEPTH,
    MAX_FORMAT_WIDTH,
    MAX_INT_BITS,
    MAX_REPEAT_LITERAL,
    MAX_SEQUENCE_LENGTH,
    MAX_SOURCE_CHARS,
    SCRIPT_FILENAME,
)

__all__ = [
    "BUILTINS",
    "CACHE_SIZE",
    "DEFAULT_TIME_BUDGET",
    "GUARDS",
    "MAX_CALL_DEPTH",
    "MAX_CONST_EXPONENT",
    "MAX_DATA_DEPTH",
    "MAX_FORMAT_WIDTH",
    "MAX_INT_BITS",
    "MAX_REPEAT_LITERAL",
    "MAX_SEQUENCE_LENGTH",
    "MAX_SOURCE_CHARS",
    "SCRIPT_FILENAME",
    "RestrictedEnvironment",
    "RestrictedScriptEngine",
    "ScriptTimeout",
    "compile_check",
    "guarded_binop",
    "guarded_getattr",
    "guarded_inplacevar",
    "guarded_round",
    "guarded_sum",
    "make_script_engine",
    "storable",
    "time_budget",
]
