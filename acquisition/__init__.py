"""Member acquisition: a brand's member list turned into WeCom contacts of the right guide (添加会员)."""
