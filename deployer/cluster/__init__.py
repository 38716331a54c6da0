"""Throwaway single-node OpenSearch / Elasticsearch clusters for tests and `detect cluster`.

Submodules:
  distribution  fetch the engine with mvn and assemble a runnable home (cached)
  node          start/stop one loopback node from such a home
  state         remember a node started by `detect cluster up` across CLI calls
"""

# The engines detect runs a node of and proves rules on; here, where importing it costs nothing (the CLI's choices).
ENGINES = ("opensearch", "elasticsearch")
