process.exitCode = 111;
