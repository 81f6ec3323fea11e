"""The keywords every account starts with (SPEC §1): Routee's list plus the words the
US FCC's 2025 rule names. Editable per account in the admin afterwards."""

OPT_OUT = ["STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"]
OPT_OUT_ALL = ["STOPALL", "STOP ALL"]  # every number of the account
OPT_IN = ["START", "YES", "UNSTOP", "SUBSCRIBE"]
HELP = ["HELP", "INFO"]


def default_keywords() -> list[dict]:
    return [
        *({"word": w, "action": "optout", "account_wide": False} for w in OPT_OUT),
        *({"word": w, "action": "optout", "account_wide": True} for w in OPT_OUT_ALL),
        *({"word": w, "action": "optin", "account_wide": False} for w in OPT_IN),
        *({"word": w, "action": "help", "account_wide": False} for w in HELP),
    ]
