ironroot_fuzz(sensor_fuzz sensor_fuzz.cc ironroot::sensor)
