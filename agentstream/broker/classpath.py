"""Kafka's jars from Maven Central via `mvn`, cached so only the first start downloads."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

from agentstream.broker.errors import BrokerError

KAFKA_DIR = Path(__file__).resolve().parent.parent / "kafka"
"""Package data beside this package: the pom.xml naming the jars, and the log config."""
POM = KAFKA_DIR / "pom.xml"
LOG4J_CONFIG = KAFKA_DIR / "log4j2.properties"
CACHE_DIR = Path.home() / ".cache" / "agentstream"
DEFAULT_HOME = CACHE_DIR / "broker"


def require(tool: str) -> str:
    """The path of `tool` on PATH, or a BrokerError saying what to install."""
    path = shutil.which(tool)
    if path is None:
        hint = "a Java 17+ runtime" if tool == "java" else "Apache Maven"
        raise BrokerError(f"`{tool}` is not on PATH: install {hint} to run the local broker")
    return path


def resolve_classpath() -> str:
    """The broker's runtime classpath; runs `mvn` only when the pom changed or jars vanished."""
    require("java")
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    cp_file = CACHE_DIR / f"kafka-classpath-{digest}.txt"
    if cp_file.exists():
        classpath = cp_file.read_text().strip()
        if classpath and all(Path(p).exists() for p in classpath.split(":")):
            return classpath
    mvn = require("mvn")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(POM),
        "dependency:build-classpath",
        f"-Dmdep.outputFile={cp_file}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not cp_file.exists():
        raise BrokerError(f"mvn could not resolve Kafka's jars:\n{result.stdout}{result.stderr}")
    return cp_file.read_text().strip()


def kafka_version(classpath: str) -> str:
    """The Apache Kafka version, read from the kafka-clients jar on the classpath."""
    for entry in classpath.split(":"):
        if Path(entry).name.startswith("kafka-clients-"):
            with zipfile.ZipFile(entry) as jar:
                props = jar.read("kafka/kafka-version.properties").decode()
            for line in props.splitlines():
                if line.startswith("version="):
                    return line.split("=", 1)[1].strip()
    raise BrokerError("kafka-clients jar not found on the resolved classpath")
