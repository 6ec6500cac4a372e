"""Sentral side of the EnrolHQ → Sentral pipelines: the Sentral client and hook, and the integration
logic the DAGs call (mappings, payload building, matching, change parsing, the ledger, reports)."""
