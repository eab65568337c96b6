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
A private service (the default) is called with an ID token for its URL from google-auth's
default chain (``identity.py``), which ``endpoint_headers`` and ``health`` hand to the gates.

Target settings (``[targets.NAME]``, see :class:`~.settings.GcpSettings`)::

    [targets.prod]
    provider = "gcp"
    project = "my-project"
    region = "europe-west1"
    # public = true                     # allUsers may invoke (default: private, ID tokens)
    # api_endpoint = "http://127.0.0.1:8085"   # an emulator
    # credentials = "anonymous"                # only with api_endpoint
    # registry = "127.0.0.1:5000/models"       # instead of Artifact Registry

The label mapping of modelport's tags is documented in :mod:`.translate`; sizes are checked
against ``limits.toml`` (a copy of the project's reference table) in :mod:`.sizes`.

Undoing a revision: Cloud Run deletes only *retired* revisions (``DeleteRevisionRequest``), and
the service's latest created revision never is. So ``delete_revision`` of the revision just
created (the undo of a failed swap, a killed one's ``abort``) first updates the service back to
the template of the revision that serves, named as it is (``<deployment>-rN``), and drops the new
revision's tag, in one UpdateService; Cloud Run adopts the existing revision of that name and
configuration as the latest created again, creating none (Knative's ``CheckNameAvailability``; a
*different* configuration under that name would be a 409). Then DeleteRevision succeeds. Each
part reads before it writes, so a repeat after a lost reply or a crash finishes what is left.

Scaling on Cloud Run (see :mod:`.scaling`): ``min_instances``/``max_instances`` become the
template's ``scaling.min_instance_count``/``max_instance_count``, ``concurrency`` its
``max_instance_request_concurrency``; ``plan`` shows each. Less than 1 vCPU needs concurrency 1
and request-based billing (``validate`` refuses otherwise); images must be linux/amd64.

Known limits: a private service (the default) answers 403 to the engine's endpoint smoke
request and to ``modelport predict``, which send no identity token; deploy with ``public = true``
or call the service with an ID token. Old revisions keep their tag (0% traffic) so rollback and
per-revision smoke tests reach them (revisions beyond keep_revisions are deleted). A deployment
name and a traffic tag (``rN``) share a DNS label of the tag URL: together at most 46 characters.
"""
