"""The WADO-RS simulators: the source (server) and the consumer (client)."""
