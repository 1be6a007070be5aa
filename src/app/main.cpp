// The tiketi binary: the CLI lives in app/cli.cpp; the list of services in app/services.cpp.
#include "app/cli.hpp"

int main(int argc, char** argv) { return tiketi::app::run_cli(argc, argv); }
