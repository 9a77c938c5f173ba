"""Stage 2, the index: chunking, embedding, the Chroma store, building it, and the cited sources."""
