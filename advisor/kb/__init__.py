"""The knowledge base: models and GPUs, one YAML file each, every fact with its source."""
from advisor.kb.schema import GPU, Architecture, Model, Source
from advisor.kb.store import KnowledgeBase, load_kb

__all__ = ["GPU", "Architecture", "Model", "Source", "KnowledgeBase", "load_kb"]
