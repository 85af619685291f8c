# cmake -DDIR=... -P check_empty_dir.cmake: fails, naming them, when files are left in DIR (the
# tests' temporary directory, which every test must clean up after itself); then removes DIR.
file(GLOB_RECURSE left LIST_DIRECTORIES true RELATIVE ${DIR} ${DIR}/*)
file(REMOVE_RECURSE ${DIR})
if(left)
  list(JOIN left "\n  " listed)
  message(FATAL_ERROR "tests left files behind in ${DIR}:\n  ${listed}")
endif()
