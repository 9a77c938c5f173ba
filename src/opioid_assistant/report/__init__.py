"""Stage 1, the report: reading a capture (txt, PDF, HTML) into sections, sentences and endnotes."""
