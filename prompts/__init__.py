"""The prompt files of LLM mode, shipped as the package `chatbot.prompts` (pyproject.toml)."""
