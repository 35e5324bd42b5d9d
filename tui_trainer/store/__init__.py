"""The run directory: the contract between the trainer that writes it and every reader.

Writers are atomic or append-only; readers are tolerant (a torn CSV line is "not written yet", a
garbled TOML file reads as unknown) and judge liveness (a running state whose pid is gone or whose
heartbeat is stale reads as crashed). Imports neither torch nor textual.
"""
