"""One module per Omni object type: its backup, snapshot view, inventory, plan, apply and
verify side by side (the protocol is `omnimigrate.platforms.omni.handler`)."""
