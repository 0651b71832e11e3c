"""The gateway: catalogue, streaming subscriptions (WebSocket, SSE), latest state, HTTP
publishing and the status page, for subscribers and publishers who run no Kafka client."""
