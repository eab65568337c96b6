"""modelport-swarm: deploy modelport images to Docker Swarm.

Install it next to modelport and name it in a target; nothing in modelport changes::

    pip install modelport-swarm

    # modelport.toml
    [targets.swarm]
    provider = "swarm"
    docker_host = "ssh://ops@manager-1"   # default: DOCKER_HOST

``modelport providers`` then lists ``swarm`` (loaded from the ``modelport.providers`` entry
point). Modules, top to bottom: ``plugin`` (the hook), ``settings`` (target keys), ``translate``
(Spec -> service, pure), ``addresses`` (where a revision listens), ``client`` (the only Docker
SDK caller), ``status`` (services and tasks -> revisions and health), ``provider``.
"""

__version__ = "0.1.0"
