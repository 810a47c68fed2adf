# ghcr.io/distill/distill:<version>: the distribution (bin/distill, lib/, conf/) on Java 17.
# Build from the repository root after `mvn package`:
#   docker build -f deploy/k8s/images/distill.Dockerfile --build-arg VERSION=0.1.0-SNAPSHOT \
#     -t ghcr.io/distill/distill:0.1.0-SNAPSHOT .
FROM eclipse-temurin:17-jre
ARG VERSION
ADD deploy/target/distill-${VERSION}.tar.gz /opt/
RUN ln -s /opt/distill-${VERSION} /opt/distill
ENV DJL_OFFLINE=true
USER 10001
ENTRYPOINT ["/opt/distill/bin/distill"]
