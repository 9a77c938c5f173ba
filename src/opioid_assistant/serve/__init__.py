"""Stage 4, serving: the HTTP API, the Gradio page, its evaluation tab, answer formatting, hosts, feedback."""
