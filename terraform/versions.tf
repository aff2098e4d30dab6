terraform {
  # optional() object attributes and `startswith` need 1.3+; 1.6 is the oldest release still
  # receiving fixes when this was written.
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Application = "silt", Deployment = var.name }, var.tags)
  }
}
