"""Make the repository importable as ansible_collections.replicant.mysql (tests and plain Python)."""
import hashlib
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# One link per checkout: two checkouts (a CI clone and a work tree) must not share it.
COLLECTIONS = os.path.join('/tmp', 'replicant-collections-%d-%s' % (os.getuid(), hashlib.sha1(REPO.encode()).hexdigest()[:10]))
_link = os.path.join(COLLECTIONS, 'ansible_collections', 'replicant', 'mysql')
os.makedirs(os.path.dirname(_link), exist_ok=True)
if os.path.realpath(_link) != REPO:
    if os.path.lexists(_link):
        os.unlink(_link)
    os.symlink(REPO, _link)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
os.environ['ANSIBLE_COLLECTIONS_PATH'] = COLLECTIONS
