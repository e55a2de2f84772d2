"""SOP playbooks: follow-ups that become each guide's dated tasks, with reminders, execution rate and lift."""
