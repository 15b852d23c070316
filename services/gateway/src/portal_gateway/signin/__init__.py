"""Sign-in at the portal link: the link page, sign-in requests, link and code verification,
staff preview redemption."""
