"""The distributed runner's Kafka side: broker fixture, topics and keys, the fast
Faust transport, and feed replay. Importing this package connects to nothing."""
