"""The ladder as data (columns, F-numbered arrows) and its text, Mermaid and JSON renderings."""
