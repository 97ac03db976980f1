"""`make bench`'s press counts: how many presses of the one button reach an
account, for every account of a token holding 100 and 1000, counted by
driving the firmware with a user who reads the screen (tests/mp/navuser.py)
rather than by formula.

Every target of a full token: the screens state machine (screens.py, with
its real store, ui and jump menu) inside the MicroPython unix port, through
tests/mp/navdrive.py (minutes in a simulated token become seconds). Then a
sample on a SimulatedToken (the whole firmware, its button and OLED
models): the same counts, so the fast path is the firmware's own.

The accounts: real services' names, drawn (seeded) with a skew like a real
collection's, many under A, G, M and S, some services several times over.
"""
import os
import random
import tempfile

from host_tools import mpy

MP_DIR = os.path.join(mpy.REPO, "tests", "mp")
SEED = 17

# Services people keep codes for; repeated ones weigh more (several
# accounts at one service are common: work and personal, many AWS roots).
ISSUERS = (
    "Adobe", "Airbnb", "Airtable", "Akamai", "Alibaba Cloud", "Amazon", "Amazon Web Services",
    "American Express", "Ameritrade", "Anthropic", "Apple", "Asana", "Atlassian", "Auth0",
    "Autodesk", "Avast", "AWS", "AWS", "AWS", "Azure", "Azure DevOps", "Backblaze",
    "Bitbucket", "Bitwarden", "Binance", "Box", "Brex", "Canva", "Cloudflare", "Coinbase",
    "Confluence", "Crowdstrike", "Datadog", "DigitalOcean", "Discord", "Docker Hub",
    "Dropbox", "eBay", "Epic Games", "Evernote", "Facebook", "Fastly", "Figma", "Fidelity",
    "Firefox", "Gandi", "GitHub", "GitHub", "GitHub", "GitLab", "GitLab", "Gitea", "Gmail",
    "GoDaddy", "Google", "Google", "Google", "Google", "Google Cloud", "Grafana", "Gusto",
    "Hetzner", "HubSpot", "IBM Cloud", "Instagram", "Intuit", "Jira", "Kraken", "LastPass",
    "Linode", "LinkedIn", "Linear", "Mailchimp", "Mailgun", "Mastodon", "Medium", "Mega",
    "Mercury", "Meta", "Microsoft", "Microsoft", "Microsoft", "Microsoft 365", "Miro",
    "Mixpanel", "Monday", "MongoDB Atlas", "Monzo", "Mozilla", "Namecheap", "Netlify",
    "Nextcloud", "Notion", "npm", "Okta", "OneLogin", "OpenAI", "Oracle Cloud", "OVHcloud",
    "PagerDuty", "PayPal", "Pinterest", "Plaid", "Proton", "PyPI", "Rackspace", "Reddit",
    "Revolut", "RubyGems", "Salesforce", "Samsung", "Scaleway", "Sentry", "Shopify", "Signal",
    "Slack", "Slack", "Snapchat", "Snowflake", "SoundCloud", "Splunk", "Square", "Squarespace",
    "Stack Overflow", "Steam", "Stripe", "Stripe", "Substack", "SurveyMonkey", "Synology",
    "Tailscale", "TeamViewer", "Terraform Cloud", "TikTok", "Trello", "Tumblr", "Twilio",
    "Twitch", "Uber", "Ubiquiti", "Vercel", "Vultr", "Wasabi", "Webflow", "Wise", "WordPress",
    "X", "Xero", "Yahoo", "YNAB", "Zendesk", "Zoho", "Zoom",
)
# The skew: extra draws for the letters collections lean on.
HEAVY = {"A": 3, "G": 3, "M": 3, "S": 3}
PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
          "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent",
          "victor", "walter", "yara", "zoe")
ROLES = ("admin", "ops", "dev", "root", "billing", "support", "ci", "deploy", "backup",
         "security", "finance", "test", "staging", "prod", "personal", "work")


def accounts(n, seed=SEED):
    """n (issuer, name, kind) with distinct labels, in a random order (as
    accounts arrive over the years), one in 20 an HOTP account."""
    rng = random.Random(seed)
    pool = []
    for issuer in ISSUERS:
        pool += [issuer] * HEAVY.get(issuer[0].upper(), 1)
    seen = set()
    out = []
    while len(out) < n:
        issuer = rng.choice(pool)
        person = rng.choice(PEOPLE)
        name = rng.choice((person, "%s.%s" % (person, rng.choice(ROLES)),
                           "%s@example.com" % person, rng.choice(ROLES)))
        if (issuer, name) in seen:
            continue
        seen.add((issuer, name))
        out.append((issuer, name, "hotp" if rng.random() < 0.05 else "totp"))
    return out


def letters(accs):
    """How many accounts each first letter has, most first."""
    count = {}
    for issuer, _, _ in accs:
        count[issuer[0].upper()] = count.get(issuer[0].upper(), 0) + 1
    return sorted(count.items(), key=lambda kv: -kv[1])


def drive_micropython(accs, favourites=0, height=64, start=0, targets=None):
    """Presses to each target (default: every account), each from display
    index `start`, in the firmware's screens inside MicroPython; and the
    bytes the menu's order took."""
    targets = [list(a[:2]) for a in accs] if targets is None else targets
    root = tempfile.mkdtemp(prefix="token-nav-")
    w = mpy.Worker(extra_path=[MP_DIR])
    try:
        w.call("navdrive", "setup", root + "/accounts", [list(a) for a in accs], favourites,
               height, max(len(accs), 16))
        counts = w.call("navdrive", "reach_all", start, targets)
        ram = w.call("navdrive", "ram")
    finally:
        w.close()
    return counts, ram


def _navuser():
    """tests/mp/navuser.py, loaded from its file: the package's sys.path
    stays as it is (tests/repo/test_package_shape.py)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("navuser", os.path.join(MP_DIR, "navuser.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def drive_simulated(accs, targets, start=0, runtime="micropython"):
    """The same user on a SimulatedToken: presses to each target from the
    account at display index `start`, reading the decoded OLED."""
    navuser = _navuser()  # tests/mp: the same user, under CPython
    from host_tools.batching import batches
    from host_tools.client import TokenClient
    from host_tools.formats.otpauth import Account
    from host_tools.link import SerialLink
    from host_tools.simulator import SimulatedToken
    counts = []
    with SimulatedToken(runtime=runtime, idle_s=3600) as tok, \
            TokenClient(SerialLink(tok.port), timeout=60) as c:
        c.sync_time()
        for batch in batches([Account(name=n, issuer=iss, secret=os.urandom(10), kind=k)
                              for iss, n, k in accs]):
            c.add_many(batch, show=False)
        first = accs[start]
        for issuer, name in targets:
            c.show(first[1], issuer=first[0])
            user = navuser.User(issuer, name, tok.display_size[0] // 8)
            n = 0
            while True:
                # press() returns once the firmware has handled the press
                # and redrawn: the screen then shows its answer.
                ev = user.next(tok.screen_text().split("\n"))
                if ev is None or n > 60:
                    break
                (tok.press if ev == navuser.SHORT else tok.long_press)()
                n += 1
            counts.append(n if ev is None else -1)
    return counts
