"""The ``gcp`` provider: Google Cloud Run (Admin API v2).

A deployment is one Cloud Run service (id = the deployment name); modelport revision ``rN`` is the
Cloud Run revision ``<deployment>-rN``, named explicitly, with the traffic tag ``rN`` so each
revision has its own URL for smoke tests; traffic is Cloud Run's native split, pinned to named
revisions (never LATEST). Images are pulled by digest from Artifact Registry
(``<region>-docker.pkg.dev/<project>/<repository>/<deployment>``, with google-auth credentials) or
from the ``registry`` override. The repository is created when missing only if the optional
package google-cloud-artifact-registry is installed; otherwise it must already exist
(``gcloud artifacts repositories create modelport --repository-format=docker
--location=REGION``). Secrets: ``gcp-sm:`` references become
Secret Manager references that Cloud Run resolves; ``env:``/``file:`` ones become env values.

Target settings (``[targets.NAME]``, see :class:`~.settings.GcpSettings`)::

    [targets.prod]
    provider = "gcp"
    project = "my-project"
    region = "europe-west1"
    public = true                       # allUsers may invoke (default: private)
    # api_endpoint = "http://127.0.0.1:8085"   # an emulator
    # credentials = "anonymous"                # only with api_endpoint
    # registry = "127.0.0.1:5000/models"       # instead of Artifact Registry

The label mapping of modelport's tags is documented in :mod:`.translate`; sizes are checked
against ``limits.toml`` (a copy of the project's reference table) in :mod:`.sizes`.

Known limits: a private service (the default) answers 403 to the engine's endpoint smoke
request and to ``modelport predict``, which send no identity token; deploy with ``public = true``
or call the service with an ID token. Old revisions keep their tag (0% traffic) so rollback and
per-revision smoke tests reach them (revisions beyond keep_revisions are deleted).
"""
