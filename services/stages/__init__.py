"""The processing stages over the wire events (schemas): what the faust agents, `claimstream
annotate`, the scripts and the tests all call, so the stream and the offline mode cannot drift apart.

Each stage turns events into the plain types of services/nlp, calls the language functions
there, and builds the events it sends. services/nlp itself knows only text.
"""
