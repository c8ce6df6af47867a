"""One module per caoctl command; each exports `command`."""
