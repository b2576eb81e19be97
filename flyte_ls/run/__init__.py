"""Running the user's entities: the worker client, registration, the backend, execution tracking. Server
side, no LSP types (usable from the demo and the benchmarks too)."""
