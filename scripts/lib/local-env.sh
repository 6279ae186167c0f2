# shellcheck shell=bash
# scripts/lib/local-env.sh -- the environment the functions, the admin tool and
# the tests use against DynamoDB Local. Sourced; takes the endpoint as $1.
#
# DynamoDB Local checks no signature, but the SDK needs some credentials and a
# region to sign with; instance-metadata look-ups are turned off so nothing
# reaches for the network.

local_env() {
  export AWS_ENDPOINT_URL_DYNAMODB="$1"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_EC2_METADATA_DISABLED=true
}
