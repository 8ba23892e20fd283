"""Reading a capture: pcap/pcapng records, the frame pipeline, the tshark reader, the loaded Capture."""
