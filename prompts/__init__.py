"""Prompt files, shipped inside the package as opioid_assistant.prompt_files."""
