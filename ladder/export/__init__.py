"""Bug-report outputs: the HTML report, pcap slices, anonymisation, WAV."""
