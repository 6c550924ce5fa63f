"""Elements the engine does not run and other vendors' extensions that change semantics."""
from __future__ import annotations

from lxml import etree

from engine.validation.base import CheckerBase
from engine.validation.messages import (
    MSG_AD_HOC,
    MSG_COMPENSATION,
    MSG_COMPLEX_GATEWAY,
    MSG_CONDITIONAL_EVENT,
    MSG_DATA_STORE,
    MSG_EVENT_GATEWAY,
    MSG_RULE_TASK,
    MSG_SEND_TASK,
    MSG_SERVICE_TASK,
    MSG_SIGNAL_EVENT,
    MSG_VENDOR_ASSIGNEE,
    MSG_VENDOR_CODE,
    MSG_VENDOR_FORM,
    MSG_VENDOR_LISTENER,
    MSG_VENDOR_MAPPING,
    MSG_VENDOR_OTHER,
)
from engine.validation.model import _local, _ns, _q

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
ACTIVITI_NS = "http://activiti.org/bpmn"
FLOWABLE_NS = "http://flowable.org/bpmn"
VENDOR_NAMESPACES = {CAMUNDA_NS: "Camunda", ZEEBE_NS: "Camunda 8 (Zeebe)", ACTIVITI_NS: "Activiti",
                     FLOWABLE_NS: "Flowable"}
_UNSUPPORTED_NODES = {
    "eventBasedGateway": MSG_EVENT_GATEWAY,
    "complexGateway": MSG_COMPLEX_GATEWAY,
    "adHocSubProcess": MSG_AD_HOC,
    "serviceTask": MSG_SERVICE_TASK,
    "sendTask": MSG_SEND_TASK,
    "businessRuleTask": MSG_RULE_TASK,
}
_UNSUPPORTED_CONTENT = {"dataStoreReference": MSG_DATA_STORE, "dataStore": MSG_DATA_STORE}
_UNSUPPORTED_EVENTS = {
    "signalEventDefinition": MSG_SIGNAL_EVENT,
    "conditionalEventDefinition": MSG_CONDITIONAL_EVENT,
    "compensateEventDefinition": MSG_COMPENSATION,
}

# Vendor extensions that change semantics: (local name, attribute?) -> category.
_VENDOR_FORM = {"formKey", "formRef", "formRefBinding", "formRefVersion", "formData", "formField", "formDefinition",
                "userTaskForm", "formHandlerClass", "formProperty"}
_VENDOR_ASSIGNEE = {"assignee", "candidateUsers", "candidateGroups", "assignmentDefinition"}
_VENDOR_LISTENER = {"executionListener", "taskListener", "executionListeners", "taskListeners", "eventListener"}
_VENDOR_MAPPING = {"inputOutput", "ioMapping", "in", "out", "inputParameter", "outputParameter", "input", "output"}
_VENDOR_CODE = {"class", "expression", "delegateExpression", "type", "topic", "taskDefinition", "connector",
                "resultVariable", "resource", "script", "decisionRef", "calledElement", "subscription",
                "loopCharacteristics", "variableMappingClass", "variableMappingDelegateExpression",
                "calledDecision", "taskHeaders", "linkedResources"}
# Harmless vendor metadata (execution platform hints, async flags, history settings, properties...).
_VENDOR_HARMLESS = {"asyncBefore", "asyncAfter", "async", "exclusive", "jobPriority", "historyTimeToLive",
                    "versionTag", "isStartableInTasklist", "failedJobRetryTimeCycle", "properties", "property",
                    "executionPlatform", "executionPlatformVersion", "modelerTemplate", "modelerTemplateVersion",
                    "candidateStarterGroups", "candidateStarterUsers", "taskPriority", "jobDefinitionRef",
                    "versionTagBinding", "calledElementBinding", "calledElementVersion", "calledElementTenantId",
                    "initiator", "documentation", "formHandler", "skipExpression"}


class VendorChecks(CheckerBase):
    """Report other vendors' extensions."""

    def check_vendor(self, node: etree._Element, file: str) -> None:
        """Report other vendors' extensions (attributes and extension elements) that change semantics."""
        seen: set[str] = set()
        items: list[tuple[str, str]] = []
        for name in node.attrib:
            qname = etree.QName(name)
            if qname.namespace in VENDOR_NAMESPACES:
                items.append((qname.namespace, qname.localname))
        extensions = node.find(_q("extensionElements"))
        if extensions is not None:
            for element in extensions:
                if isinstance(element.tag, str) and _ns(element) in VENDOR_NAMESPACES:
                    items.append((_ns(element), _local(element)))
        for namespace, name in items:
            category = _vendor_category(name)
            if category is None or category in seen:
                continue
            seen.add(category)
            self.add(category, file, node, vendor=VENDOR_NAMESPACES[namespace], what=_vendor_what(namespace, name))


def _vendor_category(name: str) -> str | None:
    if name in _VENDOR_HARMLESS:
        return None
    if name in _VENDOR_FORM:
        return MSG_VENDOR_FORM
    if name in _VENDOR_ASSIGNEE:
        return MSG_VENDOR_ASSIGNEE
    if name in _VENDOR_LISTENER:
        return MSG_VENDOR_LISTENER
    if name in _VENDOR_MAPPING:
        return MSG_VENDOR_MAPPING
    if name in _VENDOR_CODE:
        return MSG_VENDOR_CODE
    return MSG_VENDOR_OTHER


def _vendor_what(namespace: str, name: str) -> str:
    prefix = {CAMUNDA_NS: "camunda", ZEEBE_NS: "zeebe", ACTIVITI_NS: "activiti", FLOWABLE_NS: "flowable"}[namespace]
    return f"{prefix}:{name}"
