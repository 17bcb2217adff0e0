// Error types shared by every module. Library code throws; only the CLI decides exit codes.
#pragma once
#include <stdexcept>
#include <string>

namespace eh {

// A runtime failure caused by bad input (file, key, shape, config) or a failing check.
// The message must say what and where: the file, the key, the expected and the found.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A mistake in how a command was called (bad flag combination, missing argument).
// The CLI maps it to exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace eh
