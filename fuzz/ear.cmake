ironroot_fuzz(ear_fuzz ear_fuzz.cc ironroot::ear)
