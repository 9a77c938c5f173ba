"""Stage 3, answering: the guard, retrieval, the extractive composer, LLM backends, citations, the Assistant."""
