# The posture parsers: SMBIOS binary, dmidecode text, MEI sysfs, AMT responses, JSON, policy.
ironroot_fuzz(posture_fuzz posture_fuzz.cc ironroot::posture nlohmann_json::nlohmann_json)
