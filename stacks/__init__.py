"""CDK constructs and the stack for the Alex Aurora Serverless v2 database."""
