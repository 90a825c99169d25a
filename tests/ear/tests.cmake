# EAR: claims model and Veraison's results, JWT signatures (with openssl CLI cross-checks), CLI.
ironroot_test(ear_test SOURCES ear/ear_test.cc ear/jwt_test.cc DEPS ironroot::ear)
ironroot_test(ear_cli_test SOURCES ear/result_cli_test.cc DEPS ironroot::ear)
add_dependencies(ear_cli_test ironroot)
