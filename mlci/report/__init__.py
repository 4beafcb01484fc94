"""Renderers: pure functions of a Result (Markdown, text, HTML, charts). Import only the model."""
