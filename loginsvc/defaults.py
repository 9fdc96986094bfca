"""
Fixed ids of the entities every instance starts with.

Kickstart files refer to them as ``#{FUSIONAUTH_APPLICATION_ID}``,
``#{FUSIONAUTH_TENANT_ID}`` and ``#{FUSIONAUTH_DEFAULT_SIGNING_KEY_ID}``.
"""

from __future__ import annotations

#: The FusionAuth admin application; the same fixed id as in FusionAuth, see
#: https://fusionauth.io/docs/get-started/download-and-install/development/kickstart
FUSIONAUTH_APPLICATION_ID = "3c219e58-ed0e-4b18-ad48-f4f92793ae32"

#: The default tenant. FusionAuth generates this id per instance; ours is fixed
#: so every worker agrees on it without a lookup. A kickstart file's
#: ``defaultTenantId`` variable overrides it for that instance.
DEFAULT_TENANT_ID = "d4ec011f-20c9-49eb-9707-a12ff5877129"

#: The default HMAC signing key (FusionAuth's "Default signing key").
DEFAULT_SIGNING_KEY_ID = "3b63d914-d0fc-4563-be62-d66430e31cd5"
