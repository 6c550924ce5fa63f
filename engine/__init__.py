"""Generic BPM runtime on SpiffWorkflow: definitions, instances, human tasks, audit. No petition knowledge."""
