"""The ``local`` provider: revisions are containers on a Docker engine (DOCKER_HOST or the
default socket). Each revision listens on its own loopback address (127.0.0.N) and the serving
port, so two deployments never collide. It cannot split traffic: the endpoint is the revision
that has 100%."""
