# The renames that port a std::shared_ptr program to cyclegc (README, "From std::shared_ptr").
s/std::shared_ptr/cyclegc::Ref/g
s/std::make_shared/cyclegc::make/g
s/std::weak_ptr/cyclegc::Weak/g
s/std::enable_shared_from_this/cyclegc::enable_ref_from_this/g
s/shared_from_this/ref_from_this/g
