"""Import of prompts, completions and existing judgements from JSONL files.

``formats`` turns one parsed line into :class:`records.PromptRecord` objects (or raises
:class:`records.LineError`); ``annotate.services.imports`` validates a whole file, then writes it
in one transaction.
"""
