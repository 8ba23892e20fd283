"""pcapladder's headless core: ingest, calls, RTP statistics, ladders, renderers, checks, CLI.

Never imports textual; plotly and pyshark are imported only inside the functions that use them.
"""

__version__ = "0.1.0"
