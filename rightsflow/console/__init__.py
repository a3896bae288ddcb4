"""The casework console: the browser front end DPOs, records managers, service leads and auditors use."""
