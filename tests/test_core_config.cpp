#include <gtest/gtest.h>

#include "core/config.h"

using eh::Config;

TEST(Config, UnknownFieldIsAnErrorNamingFileAndField) {
  Config c(nlohmann::json::parse(R"({"depth": 3, "dept": 4, "notes": "x", "class": "y"})"), "cfg.json");
  EXPECT_EQ(c.get<int>("depth"), 3);
  try {
    c.finish();
    FAIL();
  } catch (const eh::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("cfg.json"), std::string::npos);
    EXPECT_NE(m.find("'dept'"), std::string::npos);
    EXPECT_EQ(m.find("notes"), std::string::npos);  // descriptive fields are allowed
  }
}

TEST(Config, MissingAndMistypedFields) {
  Config c(nlohmann::json::parse(R"({"depth": "three", "opt": null})"), "cfg.json");
  EXPECT_THROW(c.get<int>("width"), eh::Error);
  try {
    c.get<int>("depth");
    FAIL();
  } catch (const eh::Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"three\""), std::string::npos);
  }
  EXPECT_EQ(c.get_or<int>("opt", 7), 7);  // null means absent, as upstream None
  EXPECT_NO_THROW(c.finish());
}
